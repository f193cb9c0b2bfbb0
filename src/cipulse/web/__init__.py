"""The HTTP adapter: the only package that imports FastAPI/Starlette.

The HTTP adapter: the app factory, routes and error rendering. The only package that
imports the web framework."""
