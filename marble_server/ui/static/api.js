// The explorer's only way to the server: the public REST and GraphQL API, with the
// token the user entered, kept for this browser session only (sessionStorage).

const TOKEN_KEY = "marble.token";
const SCOPES_KEY = "marble.scopes";

/** An API error: `status` and the problem+json `detail` (or the GraphQL message). */
export class ApiError extends Error {
  constructor(status, detail, problem) {
    super(detail);
    this.status = status;
    this.problem = problem;
  }
}

/** The token of this session, or null before login. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** The scopes the token passes (from GET /auth/me at login); [] without a token. */
export function scopes() {
  try {
    const granted = JSON.parse(sessionStorage.getItem(SCOPES_KEY) || "[]");
    return Array.isArray(granted) ? granted : [];
  } catch {
    return [];
  }
}

/** Whether the token passes `scope` (read, infer, train, admin). */
export function can(scope) {
  return scopes().includes(scope);
}

/** Check `candidate` against the server and keep it for the session; returns /auth/me. */
export async function login(candidate) {
  const response = await fetch("../auth/me", {
    headers: { Authorization: `Bearer ${candidate}` },
  });
  if (!response.ok) {
    throw await errorOf(response);
  }
  const me = await response.json();
  sessionStorage.setItem(TOKEN_KEY, candidate);
  sessionStorage.setItem(SCOPES_KEY, JSON.stringify(me.granted));
  return me;
}

/** Forget the token (and what it may do). */
export function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(SCOPES_KEY);
}

function headers(extra = {}) {
  const value = token();
  return value ? { ...extra, Authorization: `Bearer ${value}` } : extra;
}

async function errorOf(response) {
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    // not JSON: the status line is all there is
  }
  const detail = (problem && (problem.detail || problem.title)) || response.statusText;
  return new ApiError(response.status, `${response.status}: ${detail}`, problem);
}

/** A REST call: `path` is the API path ("/brains"); answers parsed JSON, or null for 204. */
export async function rest(method, path, body) {
  const init = { method, headers: headers() };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return answerOf(await fetch(".." + path, init));
}

/**
 * A REST call whose body is a file's bytes (a dataset upload), sent as `contentType`;
 * answers like `rest`.
 */
export async function restFile(method, path, file, contentType) {
  const init = { method, headers: headers({ "Content-Type": contentType }), body: file };
  return answerOf(await fetch(".." + path, init));
}

async function answerOf(response) {
  if (response.status === 401) {
    logout();
    window.dispatchEvent(new Event("marble:logout"));
  }
  if (!response.ok) {
    throw await errorOf(response);
  }
  if (response.status === 204) {
    return null;
  }
  // One JSON document for application/json and problem+json; anything else (the
  // graph export's NDJSON lines included) as text for the caller to read.
  const type = (response.headers.get("content-type") || "").split(";")[0].trim();
  return type === "application/json" || type.endsWith("+json")
    ? response.json()
    : response.text();
}

/** A GraphQL call; answers `data`, or throws the first error's message. */
export async function gql(query, variables = {}) {
  const response = await fetch("../graphql", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify({ query, variables }),
  });
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    throw new ApiError(response.status, `${response.status}: ${response.statusText}`, null);
  }
  if (answer.errors && answer.errors.length) {
    throw new ApiError(response.status, answer.errors[0].message, answer.errors[0]);
  }
  if (!response.ok) {
    throw new ApiError(response.status, `${response.status}: ${response.statusText}`, answer);
  }
  return answer.data;
}

/**
 * Follow a server-sent event stream (GET `path`) with the token in a header, which
 * EventSource cannot send. Calls `onEvent(kind, data)` per event; resolves when the
 * stream ends, rejects on an HTTP error. `signal` (AbortSignal) stops it early.
 */
export async function events(path, onEvent, signal) {
  const response = await fetch(".." + path, {
    headers: headers({ Accept: "text/event-stream" }),
    signal,
  });
  if (!response.ok) {
    throw await errorOf(response);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      return;
    }
    buffer += value;
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      dispatch(buffer.slice(0, end), onEvent);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
    }
  }
}

function dispatch(block, onEvent) {
  let kind = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) {
      kind = line.slice(6).trim();
    } else if (line.startsWith("data:")) {
      data.push(line.slice(5).trimStart());
    }
  }
  // A comment-only block (": keepalive") carries no data.
  if (data.length) {
    onEvent(kind, JSON.parse(data.join("\n")));
  }
}
