// What of an SDP blob may be shown to whom.

/**
 * `sdp` without the addresses of the side that made it: no candidates, and the default address
 * and ports that gathering may have filled in put back to the "none yet" of a fresh offer
 * (RFC 8839: 0.0.0.0, port 9). A call's addresses cross only once it is answered, as trickled
 * candidates.
 * @param {string} sdp
 */
export function withoutAddresses(sdp) {
  // Every line ending a browser's parser accepts (Chromium takes a bare \n as well as \r\n):
  // splitting on \r\n alone once let a \n-separated offer's candidates through whole.
  return sdp
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim())
    .filter((line) => !/^a=(candidate|end-of-candidates|remote-candidates)\b/i.test(line))
    .map((line) => {
      if (line.startsWith('m=')) return line.replace(/^(m=\S+) \d+/, '$1 9');
      if (line.startsWith('c=')) return 'c=IN IP4 0.0.0.0';
      if (line.startsWith('a=rtcp:')) return 'a=rtcp:9 IN IP4 0.0.0.0';
      return line;
    })
    .join('\r\n');
}

/** A candidate line as an SDP lists it: Chromium's trickled candidates also name their ufrag.
 * @param {string} candidate */
export function sameCandidate(candidate) {
  return candidate.replace(/ ufrag \S+/, '');
}
