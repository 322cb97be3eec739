"""The FastAPI Security Workbook's lesson package: the Notes service, the reference layer of
every lesson, the attacks, the checks and the tooling that the notebooks call."""
