/** ETags compared as S3 compares them: `"abc"` and `abc` are the same tag. */
export function sameEtag(a: string, b: string): boolean {
  return unquoteEtag(a) === unquoteEtag(b);
}

export function unquoteEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

/** An ETag as HTTP headers carry it (S3 events give them bare). */
export function quoteEtag(etag: string): string {
  return `"${unquoteEtag(etag)}"`;
}
