"""The baseline every benchmark compares with: a bare FastAPI app with one ``async def``
``GET /health``, served by ``python -m uvicorn`` with its defaults (access log on)."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
