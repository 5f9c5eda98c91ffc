// Boot reset of the state Secret (spec §4.4): pure computation of the strategic-merge `data`.
import { CAPABILITY_VERSION } from '../capver.js';

/**
 * Keys containerboot writes fresh on every start. Device identity and tailscaled's keys are left
 * alone so the operator can still clean up the previous device.
 */
export function resetData(current: Record<string, string>, podUID: string, configAuthKey: string): Record<string, string | null> {
  const data: Record<string, string | null> = {
    tailscale_capver: String(CAPABILITY_VERSION),
    https_endpoint: null,
    'egress-services': null,
    'ingress-config.json': null,
  };
  if (podUID !== '') data.pod_uid = podUID;
  // The operator answered a reissue request by putting a different key into the config: the
  // request is done. An unchanged or empty config key means the request is still open.
  const requested = current.reissue_authkey;
  if (requested !== undefined && configAuthKey !== '' && configAuthKey !== requested) data.reissue_authkey = null;
  return data;
}

/** Keys dropped once the operator delivered a new auth key (spec §4.6 step 4). */
export function reissueClearData(current: Record<string, string>): Record<string, null> {
  const data: Record<string, null> = {
    reissue_authkey: null,
    device_id: null,
    device_fqdn: null,
    device_ips: null,
    _machinekey: null,
    '_current-profile': null,
    _profiles: null,
  };
  const profile = current['_current-profile'];
  if (profile) data[profile] = null;
  return data;
}
