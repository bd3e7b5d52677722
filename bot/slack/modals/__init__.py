"""One module per modal (create, scale, update, hf_token) over one submit engine (`submit`).

Each modal module holds its view, its validation, its prefill and its submit handler;
`fields` is what the forms share (reading Slack's state, parsing amounts, resources),
`api_errors` maps Run:ai's 400 messages onto form fields.
"""
