// One error shape for every refusal the gateway makes: Auth0's `{statusCode, error, message}`.
// Modules throw HttpError; any failure becomes a response in one place (error-response.ts).

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  411: "Length Required",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  431: "Request Header Fields Too Large",
  499: "Client Closed Request",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

/** A refusal with its whole answer: status, message, and the headers that go with it (such as `Allow`). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "HttpError";
  }

  toResponse(): Response {
    return errorResponse(this.status, this.message, this.headers);
  }
}

export function errorBody(status: number, message: string): ErrorBody {
  return { statusCode: status, error: REASONS[status] ?? "Error", message };
}

/** The Content-Type of every error answer (Response.json's), on either transport. */
export const ERROR_TYPE = "application/json;charset=utf-8";

export function errorResponse(status: number, message: string, headers?: HeadersInit): Response {
  return Response.json(errorBody(status, message), { status, headers });
}
