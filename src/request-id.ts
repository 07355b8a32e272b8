const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The request id: the client's `x-request-id` when it is sane, a new one otherwise. */
export const requestIdOf = (sent: string | null): string => (sent && REQUEST_ID.test(sent) ? sent : crypto.randomUUID());
