"""`/docs`: Swagger UI on the service's OpenAPI, its assets served by the site (no CDN)."""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

SWAGGER = "/static/vendor/swagger-ui-dist-5.35.0"
PAGE = f"""<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Rectify API 文档</title>
  <link rel="icon" type="image/png" href="{SWAGGER}/favicon-32x32.png">
  <link rel="stylesheet" href="{SWAGGER}/swagger-ui.css">
  <script src="{SWAGGER}/swagger-ui-bundle.js" defer></script>
  <script src="/static/docs.js" defer></script>
</head>
<body><div id="swagger-ui"></div></body>
</html>
"""


@router.get("/docs")
def docs() -> HTMLResponse:
    """The interactive API documentation."""
    return HTMLResponse(PAGE)
