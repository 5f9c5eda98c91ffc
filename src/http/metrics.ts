// containerboot's own metrics in Prometheus text format, appended to tailscaled's user metrics.
// Hand-written instead of prom-client: prom-client costs ~13 MB RSS (docs/DECISIONS.md).

export class Metrics {
  backendState = 0;
  watchOpens = 0;
  reconciles = 0;
  reconcileErrors = 0;
  reconcileSecondsSum = 0;
  startupComplete = 0;

  observeReconcile(seconds: number, ok: boolean): void {
    this.reconciles++;
    this.reconcileSecondsSum += seconds;
    if (!ok) this.reconcileErrors++;
  }

  render(): string {
    const lines: string[] = [];
    const m = (name: string, type: string, help: string, value: number) => {
      lines.push(`# HELP containerboot_${name} ${help}`, `# TYPE containerboot_${name} ${type}`, `containerboot_${name} ${value}`);
    };
    m('backend_state', 'gauge', 'tailscaled backend state as seen on the IPN bus (0 NoState .. 6 Running).', this.backendState);
    m('ipn_bus_watches_total', 'counter', 'IPN bus watches opened (restarts of the watch included).', this.watchOpens);
    m('reconciles_total', 'counter', 'Netmap processings (firewall/Secret reconciles) run.', this.reconciles);
    m('reconcile_errors_total', 'counter', 'Netmap processings that failed.', this.reconcileErrors);
    m('reconcile_duration_seconds_sum', 'counter', 'Total time spent in netmap processing.', this.reconcileSecondsSum);
    m('startup_complete', 'gauge', '1 once startup completed.', this.startupComplete);
    // Heap figures for long runs (the soak benchmark samples them to tell leaks from RSS noise).
    const mem = process.memoryUsage();
    m('heap_used_bytes', 'gauge', 'V8 heap in use by containerboot.', mem.heapUsed);
    m('heap_total_bytes', 'gauge', 'V8 heap reserved by containerboot.', mem.heapTotal);
    m('external_bytes', 'gauge', 'Memory of C++ objects bound to JS objects (Buffers included).', mem.external);
    m('array_buffers_bytes', 'gauge', 'Memory of ArrayBuffers and Buffers.', mem.arrayBuffers);
    return `${lines.join('\n')}\n`;
  }
}
