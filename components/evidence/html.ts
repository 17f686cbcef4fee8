/**
 * report.html: the evidence report for people who are not engineers, in Portuguese, self-contained (no
 * script, font, image or style from anywhere else: it opens offline, years later). The latency of the
 * latest load test and the capacity plan are inline SVG. A part that did not run says "Não executado" and
 * why, never "Conforme". Plain module.
 */
import type { EvidenceReport } from "./schema";

const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

type Verdict = "ok" | "falha" | "alerta" | "nao";
const VERDICT_TEXT: Record<Verdict, string> = {
  ok: "Conforme",
  falha: "Não conforme",
  alerta: "Atenção",
  nao: "Não executado",
};
const badge = (v: Verdict) => `<span class="selo ${v}">${VERDICT_TEXT[v]}</span>`;
const num = (n: number | null | undefined, digits = 0) =>
  n === null || n === undefined ? "—" : n.toLocaleString("pt-BR", { maximumFractionDigits: digits });

function notRunBlock(reason: string): string {
  return `<p>${badge("nao")} <span class="motivo">${esc(reason)}</span></p>`;
}

/** Latency of the latest load test: p95 and p99 against the thresholds the run judged them by. */
export function latencyChart(lt: {
  p95Ms: number | null;
  p99Ms: number | null;
  thresholds: { metric: string; expression: string; ok: boolean }[];
}): string {
  const limits = lt.thresholds
    .filter((t) => t.metric.startsWith("http_req_duration"))
    .map((t) => /^p\((\d+)\)\s*<=?\s*([\d.]+)/.exec(t.expression))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ p: Number(m[1]), ms: Number(m[2]) }));
  const bars = [
    { name: "p95", value: lt.p95Ms, limit: limits.find((l) => l.p === 95)?.ms },
    { name: "p99", value: lt.p99Ms, limit: limits.find((l) => l.p === 99)?.ms },
  ];
  const max = Math.max(1, ...bars.flatMap((b) => [b.value ?? 0, b.limit ?? 0])) * 1.15;
  const W = 560,
    left = 60,
    width = W - left - 20,
    rowH = 46;
  const x = (v: number) => left + (v / max) * width;
  const rows = bars
    .map((b, i) => {
      const y = 20 + i * rowH;
      const over = b.limit !== undefined && b.value !== null && b.value > b.limit;
      return (
        `<text x="${left - 8}" y="${y + 20}" text-anchor="end" class="rot">${b.name}</text>` +
        (b.value === null
          ? `<text x="${left}" y="${y + 20}" class="rot">sem medida</text>`
          : `<rect x="${left}" y="${y + 6}" width="${Math.max(1, x(b.value) - left).toFixed(1)}" height="22" class="${over ? "barra-ruim" : "barra"}"/>` +
            `<text x="${(x(b.value) + 6).toFixed(1)}" y="${y + 22}" class="rot">${num(b.value, 1)} ms</text>`) +
        (b.limit === undefined
          ? ""
          : `<line x1="${x(b.limit).toFixed(1)}" x2="${x(b.limit).toFixed(1)}" y1="${y}" y2="${y + 34}" class="limite"/>` +
            `<text x="${x(b.limit).toFixed(1)}" y="${y + 44}" text-anchor="middle" class="lim">limite ${num(b.limit)} ms</text>`)
      );
    })
    .join("");
  const H = 20 + bars.length * rowH + 10;
  return `<svg role="img" aria-label="Latência do teste de carga: p95 e p99 contra os limites" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${rows}</svg>`;
}

/** The capacity plan: replicas the HPA reaches over time against what the peak and the baseline need. */
export function capacityChart(c: {
  timeline: { t: number; replicas: number }[];
  neededAtPeak: number;
  neededAtBaseline: number;
  minReplicas: number;
  maxReplicas: number;
}): string {
  const W = 560,
    H = 240,
    left = 50,
    right = 20,
    top = 16,
    bottom = 36;
  const points = c.timeline.length ? c.timeline : [{ t: 0, replicas: c.minReplicas }];
  const tEnd = Math.max(60, ...points.map((p) => p.t)) * 1.25;
  const yMax = Math.max(c.maxReplicas, c.neededAtPeak, ...points.map((p) => p.replicas)) * 1.1;
  const x = (t: number) => left + (t / tEnd) * (W - left - right);
  const y = (r: number) => top + (1 - r / yMax) * (H - top - bottom);
  let d = `M ${x(0).toFixed(1)} ${y(points[0].replicas).toFixed(1)}`;
  for (const p of points.slice(1)) d += ` H ${x(p.t).toFixed(1)} V ${y(p.replicas).toFixed(1)}`;
  d += ` H ${x(tEnd).toFixed(1)}`;
  const hline = (r: number, cls: string, label: string) =>
    `<line x1="${left}" x2="${W - right}" y1="${y(r).toFixed(1)}" y2="${y(r).toFixed(1)}" class="${cls}"/>` +
    `<text x="${W - right}" y="${(y(r) - 4).toFixed(1)}" text-anchor="end" class="lim">${esc(label)}</text>`;
  return (
    `<svg role="img" aria-label="Plano de capacidade: réplicas ao longo do tempo" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">` +
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${H - bottom}" class="eixo"/>` +
    `<line x1="${left}" x2="${W - right}" y1="${H - bottom}" y2="${H - bottom}" class="eixo"/>` +
    hline(c.maxReplicas, "teto", `máximo do HPA: ${c.maxReplicas}`) +
    hline(c.neededAtPeak, "limite", `necessário no pico: ${c.neededAtPeak}`) +
    hline(c.neededAtBaseline, "base", `necessário na base: ${c.neededAtBaseline}`) +
    `<path d="${d}" class="serie"/>` +
    `<text x="${left - 8}" y="${(y(0) + 4).toFixed(1)}" text-anchor="end" class="rot">0</text>` +
    `<text x="${left - 8}" y="${(y(c.maxReplicas) + 4).toFixed(1)}" text-anchor="end" class="rot">${c.maxReplicas}</text>` +
    `<text x="${(left + W - right) / 2}" y="${H - 6}" text-anchor="middle" class="rot">segundos desde o início do pico</text>` +
    `</svg>`
  );
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2rem auto;max-width:60rem;color:#1b1f24;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}pre{background:#f6f8fa;padding:.8rem;overflow-x:auto;font-size:.8rem}
.selo{display:inline-block;padding:.1rem .5rem;border-radius:.8rem;font-size:.85rem;font-weight:600}
.selo.ok{background:#dafbe1;color:#116329}.selo.falha{background:#ffebe9;color:#a40e26}.selo.alerta{background:#fff8c5;color:#7d4e00}.selo.nao{background:#eaeef2;color:#424a53}
.motivo{color:#57606a}.meta td:first-child{width:14rem;font-weight:600}
svg .barra{fill:#2f81f7}svg .barra-ruim{fill:#cf222e}svg .limite{stroke:#cf222e;stroke-width:2;stroke-dasharray:4 3}
svg .teto{stroke:#8c959f;stroke-dasharray:2 3}svg .base{stroke:#1a7f37;stroke-dasharray:4 3}svg .eixo{stroke:#57606a}
svg .serie{fill:none;stroke:#2f81f7;stroke-width:3}svg .rot{font-size:12px;fill:#1b1f24}svg .lim{font-size:11px;fill:#57606a}
`;

/** The whole page. */
export function renderHtml(r: EvidenceReport): string {
  const s: string[] = [];
  const section = (title: string, body: string) => s.push(`<h2>${esc(title)}</h2>${body}`);
  const date = new Date(r.generatedAt);
  const when = `${date.toISOString().slice(0, 10).split("-").reverse().join("/")} ${date.toISOString().slice(11, 19)} UTC`;

  // Verdicts for the summary.
  const v = {
    regras:
      r.rulebook.status === "collected"
        ? r.rulebook.data.mandatoryFindings === 0 && r.rulebook.data.enforcersAgree
          ? "ok"
          : "falha"
        : "nao",
    auditoria: r.audit.status === "collected" ? (r.audit.data.deny === 0 ? "ok" : "falha") : "nao",
    hsm: r.hsm.status === "collected" ? (r.hsm.data.tokens.every((t) => t.ok) ? "ok" : "falha") : "nao",
    chaves:
      r.keys.status === "collected"
        ? r.keys.data.keys.some((k) => k.cryptoperiod === "expired" || k.problems.length > 0)
          ? "falha"
          : r.keys.data.keys.some((k) => k.cryptoperiod === "expiring")
            ? "alerta"
            : "ok"
        : "nao",
    hpa: r.hpa.status === "collected" ? "ok" : "nao",
    capacidade: r.capacity.status === "collected" ? (r.capacity.data.ok ? "ok" : "falha") : "nao",
    carga: r.loadTest.status === "collected" ? (r.loadTest.data.passed ? "ok" : "falha") : "nao",
    flux: r.flux.status === "collected" ? (r.flux.data.converged ? "ok" : "falha") : "nao",
    execucao:
      r.running.status === "collected"
        ? r.running.data.pods.length > 0 &&
          r.running.data.pods.every((p) => p.ready && p.containers.every((c) => c.imageID))
          ? "ok"
          : "alerta"
        : "nao",
  } satisfies Record<string, Verdict>;

  s.push(
    `<h1>Relatório de evidências da implantação</h1><p class="motivo">Para a corregedoria: o que as regras, o cluster, o HSM, o autoescalonamento e o teste de carga mostraram nesta implantação, gerado na mesma execução e assinado no HSM.</p>`,
    `<table class="meta"><tr><td>Ambiente (stack)</td><td>${esc(r.stack.name)}</td></tr>` +
      `<tr><td>Gerado em</td><td>${esc(when)}</td></tr>` +
      `<tr><td>Versão do código (commit)</td><td><code>${esc(r.commit.sha)}</code>${r.commit.dirty ? " (com alterações não registradas)" : ""}</td></tr>` +
      `<tr><td>Aprovado por</td><td>${r.approval.approvedBy ? esc(r.approval.approvedBy) : "não registrado nesta execução"} <span class="motivo">(${esc(r.approval.source)})</span></td></tr>` +
      `<tr><td>Configuração</td><td><code>${esc(r.stack.configFile)}</code> — resumo <code>${esc(r.stack.configDigest)}</code></td></tr>` +
      `<tr><td>Assinatura</td><td>chave <code>${esc(r.signer.keyLabel)}</code> no HSM (${esc(r.signer.token)}), ${esc(r.signer.algorithm)}, impressão digital <code>${esc(r.signer.fingerprint)}</code> — arquivo <code>report.json.sig</code></td></tr>` +
      `<tr><td>Âncora de confiança</td><td><code>${esc(r.anchor.file)}</code> (resumo <code>${esc(r.anchor.digest)}</code>): a chave acima só vale se esse arquivo do repositório a listar, com vigência que cubra a data deste relatório</td></tr>` +
      `<tr><td>Cadeia de evidências</td><td>relatório nº ${r.chain.sequence} do ambiente ${esc(r.stack.name)}; ${
        r.chain.previous
          ? `o anterior é o nº ${r.chain.previous.sequence}, pasta <code>${esc(r.chain.previous.folder)}</code>, resumo <code>${esc(r.chain.previous.digest)}</code>`
          : "início da cadeia (não há relatório anterior)"
      }</td></tr></table>`,
  );
  section(
    "Resumo",
    `<table><tr><th>Verificação</th><th>Resultado</th></tr>` +
      (
        [
          ["Regras (conftest e pacote de políticas)", v.regras],
          ["Auditoria do cluster em execução", v.auditoria],
          ["HSM: tokens e slots de assinatura", v.hsm],
          ["Inventário de chaves e criptoperíodos", v.chaves],
          ["Autoescalonamento (HPA)", v.hpa],
          ["Plano de capacidade", v.capacidade],
          ["Teste de carga mais recente", v.carga],
          ["Sincronização GitOps (Flux)", v.flux],
          ["O que está em execução (imagens por resumo)", v.execucao],
        ] as [string, Verdict][]
      )
        .map(([k, x]) => `<tr><td>${esc(k)}</td><td>${badge(x)}</td></tr>`)
        .join("") +
      `</table>`,
  );

  if (r.rulebook.status === "collected") {
    const rb = r.rulebook.data;
    const nivel = { mandatory: "obrigatória", advisory: "recomendação", disabled: "desativada" };
    section(
      "Regras",
      `<p>Catálogo versão ${rb.catalogueVersion} (<code>${esc(rb.catalogueDigest)}</code>), ${rb.documents} documentos de ${esc(rb.inputs.join(", "))}. ` +
        `Cada regra foi aplicada pelos dois executores — conftest (Rego) e o pacote de políticas do Pulumi — ${rb.enforcersAgree ? "que concordam em todas" : "<strong>que discordam em alguma</strong>"}.</p>` +
        `<table><tr><th>Regra</th><th>Nível</th><th>conftest</th><th>pacote</th><th>Resultado</th></tr>` +
        rb.rules
          .map((x) => {
            const n = x.conftest.deny + x.conftest.warn;
            const verdict: Verdict = !x.agree ? "falha" : n === 0 ? "ok" : x.level === "advisory" ? "alerta" : "falha";
            const msgs = x.conftest.messages.length
              ? `<br><span class="motivo">${x.conftest.messages.slice(0, 5).map(esc).join("<br>")}${x.conftest.messages.length > 5 ? "<br>…" : ""}</span>`
              : "";
            return `<tr><td><code>${esc(x.id)}</code> ${esc(x.title)}${msgs}</td><td>${nivel[x.level]}</td><td>${n}</td><td>${x.pack.deny + x.pack.warn}</td><td>${badge(verdict)}</td></tr>`;
          })
          .join("") +
        `</table><h3>Exceções</h3>` +
        (rb.exceptions.length
          ? `<table><tr><th>Regra</th><th>Escopo</th><th>Responsável</th><th>Motivo</th><th>Vence em</th></tr>` +
            rb.exceptions
              .map(
                (e) =>
                  `<tr><td><code>${esc(e.rule)}</code></td><td>${esc(e.scope)}</td><td>${esc(e.owner)}</td><td>${esc(e.reason)}</td><td>${esc(e.expires)} ${e.active ? `(${e.daysLeft} dias)` : badge("falha")}</td></tr>`,
              )
              .join("") +
            `</table>`
          : "<p>Nenhuma exceção.</p>"),
    );
  } else section("Regras", notRunBlock(r.rulebook.reason));

  section(
    "Auditoria do cluster em execução",
    r.audit.status === "collected"
      ? `<p>${r.audit.data.objects} objetos em execução avaliados (${esc(r.audit.data.where)}): ${r.audit.data.deny} violações obrigatórias, ${r.audit.data.warn} recomendações.</p>` +
          (r.audit.data.findings.length
            ? `<table><tr><th>Namespace</th><th>Nível</th><th>Achado</th></tr>${r.audit.data.findings
                .map(
                  (f) =>
                    `<tr><td>${esc(f.namespace || "(cluster)")}</td><td>${f.level === "deny" ? "obrigatória" : "recomendação"}</td><td>${esc(f.message)}</td></tr>`,
                )
                .join("")}</table>`
            : "")
      : notRunBlock(r.audit.reason),
  );

  section(
    "HSM e chaves",
    (r.hsm.status === "collected"
      ? `<table><tr><th>Token</th><th>Rótulo</th><th>Série</th><th>Slot</th><th>Resultado</th></tr>${r.hsm.data.tokens
          .map(
            (t) =>
              `<tr><td>${esc(t.name)}</td><td>${esc(t.label)}</td><td>${esc(t.serial ?? "—")}</td><td>${esc(t.slotId ?? "—")}</td><td>${badge(t.ok ? "ok" : "falha")}${t.problems.length ? `<br><span class="motivo">${t.problems.map(esc).join("<br>")}</span>` : ""}</td></tr>`,
          )
          .join("")}</table>`
      : notRunBlock(r.hsm.reason)) +
      (r.keys.status === "collected"
        ? `<p>Criptoperíodo: vence em até ${r.keys.data.warnDays} dias = atenção.</p><table><tr><th>Chave</th><th>Finalidade</th><th>Algoritmo</th><th>Atestação no HSM</th><th>Vigência</th><th>Situação</th></tr>${r.keys.data.keys
            .map((k) => {
              const verdict: Verdict =
                k.cryptoperiod === "expired" || k.problems.length
                  ? "falha"
                  : k.cryptoperiod === "expiring"
                    ? "alerta"
                    : "ok";
              const att = k.attestation
                ? `sempre sensível: ${k.attestation.alwaysSensitive ? "sim" : "não"}; nunca extraível: ${k.attestation.neverExtractable ? "sim" : "não"}; gerada no HSM: ${k.attestation.local ? "sim" : "não"}`
                : "—";
              const inspection =
                k.present === "yes"
                  ? k.problems.length
                    ? `<br>${badge("falha")} <span class="motivo">${k.problems.map(esc).join("<br>")}</span>`
                    : ""
                  : `<br><span class="motivo">${k.present === "half" ? "só metade do par no HSM" : "ausente do HSM"}</span>`;
              return `<tr><td><code>${esc(k.label)}</code><br><span class="motivo">${esc(k.fingerprint ?? "")}</span>${inspection}</td><td>${esc(k.purpose)}</td><td>${esc(k.algorithm)}</td><td>${att}</td><td>${esc(k.activatedOn)} a ${esc(k.endsOn)}</td><td>${k.state === "retired" ? "aposentada" : `${badge(verdict)} ${k.daysLeft} dias`}</td></tr>`;
            })
            .join("")}</table>`
        : notRunBlock(r.keys.reason)),
  );

  section(
    "Autoescalonamento (HPA)",
    r.hpa.status === "collected"
      ? (r.hpa.data.replicas
          ? `<p>Réplicas: ${r.hpa.data.replicas.current} atuais, ${r.hpa.data.replicas.desired} desejadas (de ${r.hpa.data.replicas.min} a ${r.hpa.data.replicas.max}). ` +
            `Métricas lidas: ${(r.hpa.data.currentMetrics ?? []).map((m) => `${esc(m.resource)} ${m.utilization ?? "?"}% (alvo ${m.target ?? "?"}%)`).join(", ") || "nenhuma"}.</p>` +
            `<table><tr><th>Decisão (SuccessfulRescale)</th><th>Quando</th></tr>${
              (r.hpa.data.decisions ?? [])
                .map(
                  (d) =>
                    `<tr><td>${esc(d.message)}${d.count > 1 ? ` (x${d.count})` : ""}</td><td>${esc(d.at)}</td></tr>`,
                )
                .join("") || `<tr><td colspan="2">nenhuma decisão recente</td></tr>`
            }</table>`
          : "") +
          `<p><code>kubectl describe hpa ${esc(r.hpa.data.name)} -n ${esc(r.hpa.data.namespace)}</code></p><pre>${esc(r.hpa.data.describe)}</pre>`
      : notRunBlock(r.hpa.reason),
  );

  section(
    "Plano de capacidade",
    r.capacity.status === "collected"
      ? `<p>${badge(r.capacity.data.ok ? "ok" : "falha")} Pico exigido pela corregedoria: ${num(r.capacity.data.peakRps)} req/s, base ${num(r.capacity.data.baselineRps)} req/s; cada réplica atende ${num(r.capacity.data.replicaThroughputRps)} req/s (${esc(r.capacity.data.throughputSource)}). ` +
          `São necessárias ${r.capacity.data.neededAtPeak} réplicas no pico e ${r.capacity.data.neededAtBaseline} na base; o HPA vai de ${r.capacity.data.minReplicas} a ${r.capacity.data.maxReplicas}` +
          (r.capacity.data.secondsToScale !== null
            ? ` e alcança o pico em ${r.capacity.data.secondsToScale} s.`
            : ".") +
          (r.capacity.data.reasons.length ? `<br>${r.capacity.data.reasons.map(esc).join("<br>")}` : "") +
          `</p>${capacityChart(r.capacity.data)}`
      : notRunBlock(r.capacity.reason),
  );

  section(
    "Teste de carga mais recente",
    r.loadTest.status === "collected"
      ? `<p>${badge(r.loadTest.data.passed ? "ok" : "falha")} p95 ${num(r.loadTest.data.p95Ms, 1)} ms, p99 ${num(r.loadTest.data.p99Ms, 1)} ms, taxa de erro ${r.loadTest.data.errorRate === null ? "—" : `${num(r.loadTest.data.errorRate * 100, 2)} %`}, ${num(r.loadTest.data.achievedRps, 1)} req/s, ${r.loadTest.data.requests} requisições.</p>` +
          latencyChart(r.loadTest.data) +
          `<table><tr><th>Métrica</th><th>Limite</th><th>Resultado</th></tr>${r.loadTest.data.thresholds
            .map(
              (t) =>
                `<tr><td><code>${esc(t.metric)}</code></td><td><code>${esc(t.expression)}</code></td><td>${badge(t.ok ? "ok" : "falha")}</td></tr>`,
            )
            .join("")}</table>`
      : notRunBlock(r.loadTest.reason),
  );

  section(
    "Sincronização GitOps (Flux)",
    r.flux.status === "collected"
      ? r.flux.data.converged
        ? `<p>${badge("ok")} O cluster aplicou a revisão <code>${esc(r.flux.data.revision)}</code>, o commit deste relatório, após ${r.flux.data.waitedSeconds} s de espera (${esc(r.flux.data.source)}).</p>`
        : `<p>${badge("falha")} <strong>Relatório escrito antes da convergência:</strong> o Flux não aplicou o commit <code>${esc(r.flux.data.expected)}</code> em ${r.flux.data.waitedSeconds} s; a última revisão aplicada era <code>${esc(r.flux.data.revision || "nenhuma")}</code>. Este relatório não atesta o que está em execução e não passa na verificação.<br><span class="motivo">${esc(r.flux.data.detail)}</span></p>`
      : notRunBlock(r.flux.reason),
  );

  if (r.admission)
    section(
      "Regras na admissão (webhook)",
      r.admission.status === "collected"
        ? `<p>${badge("ok")} O cluster julga cada objeto com o regulamento antes de aceitá-lo: webhook <code>${esc(r.admission.data.webhook)}</code> (${esc(r.admission.data.server)}), falha ${esc(r.admission.data.failurePolicy === "Fail" ? "fechada" : r.admission.data.failurePolicy)}, exceto nos namespaces ${esc(r.admission.data.exemptNamespaces.join(", "))}.<br>Configuração <code>${esc(r.admission.data.configurationDigest)}</code>; regras <code>${esc(r.admission.data.rulesDigest)}</code>.</p>`
        : notRunBlock(r.admission.reason),
    );

  section(
    "Uso de quebra de vidro (break-glass)",
    r.breakGlass.status === "collected"
      ? r.breakGlass.data.used
        ? `<p>${badge("alerta")} As verificações foram contornadas por ${esc(r.breakGlass.data.who ?? "—")}: ${esc(r.breakGlass.data.reason ?? "—")} (${esc(r.breakGlass.data.source)}).</p>`
        : `<p>${badge("ok")} Nenhum contorno das verificações (${esc(r.breakGlass.data.source)}).</p>`
      : notRunBlock(r.breakGlass.reason),
  );

  section(
    "O que está em execução",
    r.running.status === "collected"
      ? r.running.data.pods.length
        ? `<p>Pods do namespace <code>${esc(r.running.data.namespace)}</code> e as imagens que rodam, pelo resumo (digest) informado pelo kubelet.</p><table><tr><th>Pod</th><th>Fase</th><th>Contêiner</th><th>Imagem em execução</th></tr>${r.running.data.pods
            .flatMap((p) =>
              p.containers.map(
                (c) =>
                  `<tr><td>${esc(p.name)}</td><td>${esc(p.phase)}${p.ready ? "" : " (não pronto)"}</td><td>${esc(c.name)}</td><td><code>${esc(c.imageID ?? c.image)}</code>${c.imageID ? "" : ' <span class="motivo">(ainda não em execução)</span>'}</td></tr>`,
              ),
            )
            .join("")}</table>`
        : `<p>${badge("alerta")} Nenhum pod no namespace <code>${esc(r.running.data.namespace)}</code>.</p>`
      : notRunBlock(r.running.reason),
  );

  s.push(
    `<h2>Como verificar</h2><p>Este documento é a leitura de <code>report.json</code>, que prevalece. Com uma cópia do repositório e as pastas de evidências — sem cluster, sem HSM, sem rede:</p>` +
      `<pre>npm run evidence:verify -- &lt;esta pasta&gt;\nnpm run evidence:verify -- --chain ${esc(`<pasta das evidências>/${r.stack.name}`)}</pre>` +
      `<p>O primeiro confere a assinatura com a chave pública da âncora de confiança <code>${esc(r.anchor.file)}</code> (nunca com uma chave lida do cluster), a vigência da chave na data do relatório e o que ele atesta; o segundo percorre a cadeia inteira do ambiente, do nº 1 ao último, e aponta a primeira quebra.</p>` +
      `<h3>Se a verificação falhar</h3><ul>` +
      `<li><strong>Assinatura não confere</strong> ou <strong>chave fora da âncora</strong>: o relatório foi alterado depois de assinado, ou assinado por uma chave que a âncora não reconhece. Não o aceite; compare com a cópia guardada no repositório de retenção.</li>` +
      `<li><strong>Fora da vigência</strong>: a data do relatório não cabe no período da chave na âncora. Confira no histórico do arquivo da âncora (git log) quando a chave foi incluída ou encerrada.</li>` +
      `<li><strong>Quebra na cadeia</strong> (número faltando, fora de ordem, resumo diferente): um relatório foi apagado, reordenado ou substituído. A mensagem nomeia a pasta e o número; peça a cópia íntegra à equipe de segurança (time-seguranca).</li>` +
      `<li><strong>Escrito antes da convergência</strong>: o Flux ainda não tinha aplicado o commit; o relatório não prova o que estava em execução. Procure o relatório seguinte da cadeia.</li></ul>`,
  );
  return `<!doctype html><html lang="pt-BR"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"><title>Evidências — ${esc(r.stack.name)} — ${esc(r.commit.sha.slice(0, 12))}</title><style>${CSS}</style></head><body>${s.join("\n")}</body></html>\n`;
}
