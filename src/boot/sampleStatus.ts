// A bus line shaped like the first one tailscaled v1.102.3 sends once it is Running (watch #2 and
// #3: the whole ipn.Notify with InitialStatus, its Self and Peer entries, fields in the order Go
// writes them). The login-wait warm-up decodes it: JSON.parse builds an object layout
// per key sequence the first time it meets one, which a small sample would not have built
// (measured: the first real status line took 0.5 ms to decode, the next one of the same size 0.1).
// Addresses and names are placeholders; nothing of it reaches a log or the Secret.

function status(id: number, name: string, ip: string, isSelf: boolean): Record<string, unknown> {
  return {
    ID: `n${id}`, NodeID: id, PublicKey: `nodekey:${'0'.repeat(63)}${id}`, HostName: name, DNSName: `${name}.example.ts.net.`,
    OS: 'linux', UserID: 1, TailscaleIPs: [ip, `fd7a:115c:a1e0::${id}`], AllowedIPs: [`${ip}/32`, `fd7a:115c:a1e0::${id}/128`],
    Addrs: isSelf ? ['192.0.2.1:41641'] : null, CurAddr: '', Relay: '', PeerRelay: '', RxBytes: 0, TxBytes: 0,
    Created: '2026-01-01T00:00:00.000000000Z', LastWrite: '0001-01-01T00:00:00Z', LastSeen: '0001-01-01T00:00:00Z',
    LastHandshake: '0001-01-01T00:00:00Z', Online: true, ExitNode: false, ExitNodeOption: false, Active: false,
    PeerAPIURL: isSelf ? [`http://${ip}:35000`] : null, TaildropTarget: 0, NoFileSharingReason: '',
    ...(isSelf ? { Capabilities: ['https://tailscale.com/cap/is-admin'], CapMap: { 'https://tailscale.com/cap/is-admin': null } } : {}),
    InNetworkMap: true, InMagicSock: !isSelf, InEngine: false,
  };
}

/** The line's text, built on each call so no copy of it stays in memory. */
export function sampleRunningLine(): string {
  return JSON.stringify({
    Version: '1.102.3', ErrMessage: null, LoginFinished: null, State: null, Prefs: null,
    InitialStatus: {
      Version: '1.102.3', TUN: false, BackendState: 'Running', HaveNodeKey: true, AuthURL: '',
      TailscaleIPs: ['100.64.0.1', 'fd7a:115c:a1e0::1'], Self: status(1, 'self', '100.64.0.1', true), Health: [], MagicDNSSuffix: 'example.ts.net',
      CurrentTailnet: { Name: 'example', MagicDNSSuffix: 'example.ts.net', MagicDNSEnabled: true },
      CertDomains: null, ExtraRecords: null,
      Peer: { 'nodekey:2': status(2, 'peer-a', '100.64.0.2', false), 'nodekey:3': status(3, 'peer-b', '100.64.0.3', false) },
      User: { 1: { ID: 1, LoginName: 'user@example.com', DisplayName: 'user' } }, ClientVersion: null,
    },
    NetMap: null, Engine: null, BrowseToURL: null, DriveShares: null,
  });
}
