/**
 * Paths and file URLs, both ways, for any path a user may type: spaces, non-ASCII letters, `#` and `%`
 * are escaped and unescaped by Node's URL helpers, never by hand-built strings.
 *
 * @module
 */
import { fileURLToPath, pathToFileURL } from "node:url";

/** The `file://` URL of an absolute or relative path (relative to the working directory). */
export function toFileUrl(path: string): URL {
  return pathToFileURL(path);
}

/** The path of a `file://` URL. */
export function fromFileUrl(url: URL | string): string {
  return fileURLToPath(url);
}
