// PeerServer (npm package `peer`) as the bench runs it: on loopback, a port the OS picks,
// limits raised so the bench's thousands of idle clients are not refused or expired.
const { PeerServer } = require('peer');

PeerServer(
  {
    host: '127.0.0.1',
    port: 0,
    path: '/',
    key: 'peerjs',
    concurrent_limit: 1000000,
    alive_timeout: 600000,
  },
  (server) => {
    const { port } = server.address();
    console.log(`PeerServer listening on http://127.0.0.1:${port}`);
  },
);
