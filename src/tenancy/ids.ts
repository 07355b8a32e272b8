import { randomBytes } from "node:crypto";

const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const LOWER = "0123456789abcdefghijklmnopqrstuvwxyz";

function random(alphabet: string, length: number): string {
  // Rejection sampling keeps every character equally likely.
  const limit = 256 - (256 % alphabet.length);
  let out = "";
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < limit && out.length < length) out += alphabet[b % alphabet.length];
    }
  }
  return out;
}

/** AuthHero's organization id shape: `org_` and 17 characters. */
export const newOrganizationId = (): string => `org_${random(ALNUM, 17)}`;
export const newMembershipId = (): string => `uo_${random(ALNUM, 17)}`;
export const newDomainId = (): string => `cd_${random(ALNUM, 17)}`;
export const newOperationId = (): string => `op_${random(ALNUM, 17)}`;
/** A tenant id for a create request that names none: a DNS label that reads as generated. */
export const newTenantId = (): string => `t-${random(LOWER, 10)}`;

const NANOID = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-";
/** AuthHero's client ids and secrets are 21-character nanoids. */
export const newClientId = (): string => random(NANOID, 21);
export const newClientSecret = (): string => random(NANOID, 43);
/** AuthHero's connection id shape: `con_` and 17 characters. */
export const newConnectionId = (): string => `con_${random(ALNUM, 17)}`;
/** AuthHero's role ids are 21-character nanoids. */
export const newRoleId = (): string => random(NANOID, 21);
/** AuthHero's client grant ids are 21-character nanoids. */
export const newClientGrantId = (): string => random(NANOID, 21);
