// Boot errors of our own wording name the doctor check that explains them.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { explainSecretError } from '../../src/kube/explain.js';
import { readServiceAccount } from '../../src/kube/inCluster.js';
import { KubeAPIError } from '../../src/kube/status.js';
import { enableForwarding } from '../../src/proc/host.js';
import { doctorHint } from '../../src/util/doctorHint.js';

const root = mkdtempSync(path.join(tmpdir(), 'cbdoc-hint-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('doctor hints in boot errors', () => {
  it('the suffix names the check', () => {
    expect(doctorHint('tun')).toBe(`; run 'containerboot doctor' (check "tun") for details`);
  });

  it('an unreadable forwarding sysctl points at "forwarding"', () => {
    // A directory where the sysctl file should be: reading it fails even as root.
    mkdirSync(path.join(root, 'proc/sys/net/ipv4/ip_forward'), { recursive: true });
    expect(() => enableForwarding(root, [4])).toThrow(/^reading ".*ip_forward": .*; run 'containerboot doctor' \(check "forwarding"\) for details$/);
  });

  it('missing service-account files point at "kube.serviceaccount"', () => {
    expect(() => readServiceAccount(root)).toThrow(/no such file or directory; run 'containerboot doctor' \(check "kube\.serviceaccount"\) for details$/);
  });

  it('a 403 on the Secret points at "kube.rbac", after upstream\'s text and the rule', () => {
    const err = explainSecretError(new KubeAPIError('secrets "ts" is forbidden', 403, 403, 'Forbidden'), 'patch', 'ns', 'ts') as Error;
    expect(err.message).toMatch(/^secrets "ts" is forbidden: the service account may not patch .*verbs: \["patch"\]\}; run 'containerboot doctor' \(check "kube\.rbac"\) for details$/);
  });
});
