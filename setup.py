"""The wheel's packages: everything under bot/, and templates/ shipped as bot.templates.

pyproject.toml cannot say this alone: `packages.find` only finds folders under bot/, so the
package-dir mapping of templates/ (kept at the top level, DESIGN.md) was never packaged
and the wheel had no templates. Everything else about the build is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

setup(packages=[*find_namespace_packages(include=["bot", "bot.*"]), "bot.templates"])
