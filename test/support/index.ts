// Test harness barrel: `import { startReceiver, startDnsServer, ... } from '../support/index.js'`.
export { createTestPki, type TestPki, type TestPkiOptions } from './ca.js';
export { startReceiver, type Receiver, type ReceiverOptions, type RecordedRequest, type Reply } from './receiver.js';
export { startDnsServer, type DnsServer, type DnsServerOptions, type DnsQueryLog, type DnsRecordType } from './dns-server.js';
export { waitFor, sleep, type WaitForOptions } from './wait.js';
export { freePort } from './free-port.js';
export { isLoopbackIp, assertLoopback, hostPort } from './loopback.js';
