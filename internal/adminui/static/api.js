// The admin JSON routes, called with the master key kept in this tab's
// session storage. Errors come back in OpenAI's shape and become ApiError.

const storageKey = "strata.masterKey";

export function masterKey() {
  return sessionStorage.getItem(storageKey) || "";
}

export function setMasterKey(key) {
  sessionStorage.setItem(storageKey, key);
}

export function forgetMasterKey() {
  sessionStorage.removeItem(storageKey);
}

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// call sends one request; query leaves out empty values.
export async function call(path, { method = "GET", query, body } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Authorization: "Bearer " + masterKey() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, "The gateway did not answer: " + err.message, "network");
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below when the status says it failed
  }
  if (!res.ok) {
    const e = data && data.error;
    throw new ApiError(res.status, (e && e.message) || `${res.status} ${res.statusText}`, e && e.code);
  }
  return data;
}

// loginProblem explains why a key cannot open the admin page, or "" if it can.
export function loginProblem(err) {
  if (err.status === 401) return "That key was refused: it is not this gateway's master key. " + err.message;
  if (err.status === 403) return "That is a virtual key; the admin page needs the master key.";
  return err.message;
}
