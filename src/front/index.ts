// The front door: the raw-socket transport on a thread of its own, and what the composition starts it with.
export type { TokenAnswer } from "./answers.ts";
export { frontDoorOptions } from "./door-options.ts";
export { FrontDoorThread } from "./front-door-thread.ts";
export type { Finished } from "./door-contract.ts";
