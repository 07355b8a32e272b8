// E-mail for trying the example without a mail provider: what AuthHero would send (a login code, a
// link to verify an address or to reset a password) is printed on this host's console instead.
// bootstrap.ts gives the control plane an e-mail provider named "console", which every tenant
// inherits at login; AuthHero hands a provider it has no built-in sender for to `emailService`.
// A tenant (or the control plane) with a real provider (mailgun, resend, postmark) sends for real.
interface Message {
  to: string;
  subject?: string;
  template?: string;
  data?: Record<string, unknown>;
}

export const consoleEmail = {
  async send({ to, subject, template, data = {} }: Message): Promise<void> {
    const shown = Object.entries(data).filter(([k, v]) => typeof v === "string" && (k === "code" || /^https?:\/\//.test(v)));
    console.log(`[e-mail] to ${to}: ${subject ?? template ?? "(no subject)"}${shown.map(([k, v]) => `\n  ${k}: ${v}`).join("")}`);
  },
};
