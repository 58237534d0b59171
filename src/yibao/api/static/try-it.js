// yibao's /docs: Swagger UI (served locally) with a request interceptor that signs the
// channel's requests as docs/channel-api.md says, so that "Try it out" works.
// Authorize: ChannelId = the channel id, ChannelSignature = the channel's secret (it stays
// in this page: only the signature is sent). The page then sets x-yb-channel,
// x-yb-timestamp, x-yb-nonce and x-yb-signature = hex HMAC-SHA256(secret,
// METHOD \n PATH \n TIMESTAMP \n NONCE \n hex SHA-256(body)) on every /channel/v1 request,
// and a fresh Idempotency-Key on each write (unless one was authorised, to try a retry).
// WebCrypto needs a secure context: https, or http on localhost / 127.0.0.1.
"use strict";
(function () {
  const script = document.currentScript;
  const CHANNEL_PREFIX = "/channel/v1/";
  const encoder = new TextEncoder();

  const hex = (buffer) => Array.from(new Uint8Array(buffer),
    (byte) => byte.toString(16).padStart(2, "0")).join("");
  const random = () => hex(crypto.getRandomValues(new Uint8Array(16)));

  function authorised(name) {
    const found = window.ui.authSelectors.authorized().toJS()[name];
    return found && found.value ? String(found.value) : "";
  }

  // whether the operation at this method and path is a write (x-yb-write of the OpenAPI)
  function isWrite(method, path) {
    const paths = window.ui.specSelectors.specJson().toJS().paths || {};
    for (const [template, operations] of Object.entries(paths)) {
      const pattern = "^" + template.split(/\{[^}]+\}/)
        .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, "\\$&")).join("[^/]+") + "$";
      const operation = operations[method.toLowerCase()];
      if (operation && new RegExp(pattern).test(path)) {
        return operation["x-yb-write"] === true;
      }
    }
    return false;
  }

  function setHeader(headers, name, value) {
    for (const existing of Object.keys(headers)) {
      if (existing.toLowerCase() === name.toLowerCase()) delete headers[existing];
    }
    headers[name] = value;
  }

  async function sign(request) {
    const path = decodeURIComponent(new URL(request.url, window.location.href).pathname);
    if (!path.startsWith(CHANNEL_PREFIX)) return request;  // the OpenAPI itself, others
    const channel = authorised("ChannelId");
    const secret = authorised("ChannelSignature");
    if (!channel || !secret) return request;
    request.headers = request.headers || {};
    setHeader(request.headers, "x-yb-signature", "");  // never the secret itself
    if (request.body !== undefined && typeof request.body !== "string") {
      request.body = JSON.stringify(request.body);
    }
    const method = String(request.method || "GET").toUpperCase();
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = random();
    const key = await crypto.subtle.importKey("raw", encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const bodyHash = hex(await crypto.subtle.digest("SHA-256",
      encoder.encode(request.body || "")));
    const signed = [method, path, timestamp, nonce, bodyHash].join("\n");
    setHeader(request.headers, "x-yb-channel", channel);
    setHeader(request.headers, "x-yb-timestamp", timestamp);
    setHeader(request.headers, "x-yb-nonce", nonce);
    setHeader(request.headers, "x-yb-signature",
      hex(await crypto.subtle.sign("HMAC", key, encoder.encode(signed))));
    if (isWrite(method, path) && !authorised("IdempotencyKey")) {
      setHeader(request.headers, "Idempotency-Key", random());
    }
    return request;
  }

  window.ui = SwaggerUIBundle({
    url: script.dataset.openapi,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,  // no badge fetched from another site
    requestInterceptor: sign,
  });
})();
