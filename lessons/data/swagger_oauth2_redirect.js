// The script of /docs/oauth2-redirect (lessons/docs_page.py): an OAuth2 authorization server
// sends the browser back here, in the window Swagger UI opened, and this script hands the
// answer to Swagger UI in the opener, then closes the window. Used by the authorization-code
// and implicit flows; the password flow of /auth/token needs no redirect.
//
// A file of its own rather than an inline <script>, for a CSP of script-src 'self'. It does
// what Swagger UI's own oauth2-redirect.html does, except that an answer whose `state` does
// not match is refused, in every flow (RFC 6749 section 10.12: the state value protects the
// redirect against cross-site request forgery), where Swagger UI only warns.
"use strict";

(function () {
  const oauth2 = window.opener && window.opener.swaggerUIRedirectOauth2;
  if (!oauth2) {
    document.body.textContent = "This page is for Swagger UI's Authorize window only.";
    return;
  }
  // The implicit flow answers in the fragment, the authorization-code flow in the query.
  const fragment = window.location.hash.substring(1);
  const answer = Object.fromEntries(new URLSearchParams(
    /code|token|error/.test(fragment) ? fragment : window.location.search.substring(1)));
  const isValid = answer.state === oauth2.state;
  const flow = oauth2.auth.schema.get("flow");
  const codeFlows = ["accessCode", "authorizationCode", "authorization_code"];

  function fail(message) {
    oauth2.errCb({authId: oauth2.auth.name, source: "auth", level: "error", message: message});
  }

  if (!isValid) {
    fail("[Authorization refused]: the state sent back is not the one sent.");
  } else if (codeFlows.includes(flow) && !oauth2.auth.code) {
    if (answer.code) {
      delete oauth2.state;
      oauth2.auth.code = answer.code;
      oauth2.callback({auth: oauth2.auth, redirectUrl: oauth2.redirectUrl});
    } else {
      const reason = answer.error ? `[${answer.error}]: ${answer.error_description || ""}` : "";
      fail(reason || "[Authorization failed]: no authorization code received.");
    }
  } else {
    oauth2.callback({auth: oauth2.auth, token: answer, isValid: isValid,
                     redirectUrl: oauth2.redirectUrl});
  }
  window.close();
})();
