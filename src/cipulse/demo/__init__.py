"""Demo data: a deterministic, realistic CI history.

Demo data: a deterministic generator of a realistic CI history (``cipulse demo seed``).

``catalog`` holds the vocabulary (repository names, pipeline blueprints, people, branches),
``layout`` turns a seed into an organisation (repositories, pipelines, their jobs, red periods),
``timeline`` spreads runs over the days like real CI traffic, ``changes`` names the commit,
pull request, author and event each run is for, ``generator`` produces the runs
as domain ``Submission``s, chunk by chunk, and ``preparation`` resolves chunks into rows in
worker processes for the bulk ingest path. Everything but ``preparation`` is pure."""
