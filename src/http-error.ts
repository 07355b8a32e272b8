// One error shape for every refusal the gateway makes: Auth0's `{statusCode, error, message}`.
// Modules throw HttpError; the HTTP layer turns it into a response in one place (api/errors.ts).

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  411: "Length Required",
  413: "Payload Too Large",
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

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }

  toBody(): ErrorBody {
    return errorBody(this.status, this.message);
  }
}

export function errorBody(status: number, message: string): ErrorBody {
  return { statusCode: status, error: REASONS[status] ?? "Error", message };
}

export function errorResponse(status: number, message: string, headers?: HeadersInit): Response {
  return Response.json(errorBody(status, message), { status, headers });
}
