"""The care loops' pure logic: idle endpoints, schedules and the daily digest.

Nothing here does I/O or reads the clock: the jobs on the lease holder pass in what they
observed and the time, and store or post what comes out. Each module is one loop's rules:
`usage` (samples → requests, GPU-hours, money), `idle`, `schedule_rules`, `digest`.
"""
