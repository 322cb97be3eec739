// Starts Swagger UI on the service's /docs page (lessons/docs_page.py).
//
// A file of its own rather than an inline <script>, so the page works under a
// Content-Security-Policy of script-src 'self', with no 'unsafe-inline'. The page passes
// the URLs in data- attributes of the #swagger-ui element, so this file never changes.
"use strict";

(function () {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // Swagger UI's validator badge would send the OpenAPI URL to validator.swagger.io.
    validatorUrl: null,
    // An absolute URL: Swagger UI sends it to the authorization server as redirect_uri.
    oauth2RedirectUrl: new URL(root.dataset.oauth2RedirectUrl, window.location.href).href,
  });
})();
