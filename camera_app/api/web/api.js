// Calls to the device's API. The session lives in the HttpOnly cookie that the login sets, so
// this page never holds the token; fetch sends the cookie because every call is same-origin.

import { ACCEPT_LANGUAGE } from "./i18n.js";

/** A refusal from the API: `{"error": code, "reason": words}` with its HTTP status. */
export class ApiError extends Error {
  constructor(status, code, reason, retryAfter) {
    super(reason);
    this.status = status;
    this.code = code;
    this.reason = reason;
    this.retryAfter = retryAfter;
  }
}

/**
 * Sends one request; resolves to the Response when it succeeded, throws ApiError when the API
 * refused (and TypeError when the device cannot be reached).
 */
export async function request(method, path, { json, body, contentType, signal } = {}) {
  const headers = { "Accept-Language": ACCEPT_LANGUAGE };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (body !== undefined) {
    headers["Content-Type"] = contentType;
  }
  const response = await fetch(path, {
    method,
    headers,
    body,
    credentials: "same-origin",
    cache: "no-store",
    signal,
  });
  if (!response.ok) {
    let code = "http_error";
    let reason = response.statusText;
    try {
      const problem = await response.json();
      code = problem.error ?? code;
      reason = problem.reason ?? reason;
    } catch {
      // not a JSON error body; keep the status text
    }
    throw new ApiError(response.status, code, reason, response.headers.get("Retry-After"));
  }
  return response;
}

export async function getJson(path) {
  return (await request("GET", path)).json();
}

export async function postJson(path, json) {
  return (await request("POST", path, { json })).json();
}
