/**
 * The one command a new machine runs to join the platform (docs/operations.md "Adding a
 * machine"): the api prints it with the URL a join token was asked through, the CLI with
 * the URL it talks to (or its --api-url). Kept apart from tokens.ts, so the CLI loads no
 * database code for it.
 */
export function joinCommand(apiUrl: string, token: string, caHash: string): string {
  return `paas node join ${apiUrl} --token ${token} --ca-hash ${caHash}`;
}
