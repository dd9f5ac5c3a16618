/** A command-line mistake: reported with a hint to `thumbnailer help`, exit status 2. */
export class UsageError extends Error {}
