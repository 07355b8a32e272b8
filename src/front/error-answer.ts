import { ERROR_TYPE, errorBody, type HttpError } from "../http-error.ts";

/**
 * A refusal as the front door writes it: a whole HTTP/1.1 answer, after which the connection closes.
 * The status, body and headers are the HttpError's own, as `toResponse` gives them to Bun.serve, so a
 * client cannot tell which transport refused it.
 */
export function errorAnswer(error: HttpError, requestId?: string): Buffer {
  const body = errorBody(error.status, error.message);
  const json = JSON.stringify(body);
  let head = `HTTP/1.1 ${error.status} ${body.error}\r\ncontent-type: ${ERROR_TYPE}\r\ncontent-length: ${Buffer.byteLength(json)}\r\n`;
  for (const [name, value] of Object.entries(error.headers ?? {})) head += `${name.toLowerCase()}: ${value}\r\n`;
  if (requestId !== undefined) head += `x-request-id: ${requestId}\r\n`;
  return Buffer.from(`${head}connection: close\r\n\r\n${json}`);
}
