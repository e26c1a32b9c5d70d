/** The report's stylesheet, inlined into every page. */
export const PAGE_STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;background:#fafafa;margin:0}
main{max-width:1000px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}h3{font-size:15px}
.badge{font-size:13px;padding:2px 8px;border-radius:10px;vertical-align:middle}
.pass{color:#2e7d32}.fail{color:#c62828}.warn{color:#b26a00}
.badge.pass{background:#e8f5e9}.badge.fail{background:#ffebee;color:#c62828}.badge.warn{background:#fff3e0}
figure{margin:12px 0;background:#fff;border:1px solid #e0e0e0;border-radius:4px;padding:4px}
figcaption{padding:2px 8px 6px 64px;font-size:12px}
.key{margin-right:14px;white-space:nowrap}.key i{display:inline-block;width:14px;height:3px;margin:0 5px 3px 0;vertical-align:middle}
svg.chart{max-width:100%;height:auto;font-size:11px}
svg .title{font-size:13px;font-weight:600}
svg .grid{stroke:#eee}svg .frame{fill:none;stroke:#bbb}
svg .ytick{text-anchor:end;dominant-baseline:middle;fill:#555}svg .xtick{text-anchor:middle;fill:#555}
svg .ylabel{text-anchor:middle;fill:#555}svg .hline-label{text-anchor:end;font-size:11px}svg .dot-label{font-size:11px}
svg .band-label{font-size:10px;fill:#444}
table{border-collapse:collapse;margin:8px 0;background:#fff}
th,td{border:1px solid #e0e0e0;padding:3px 8px;text-align:left;vertical-align:top}
table.num td{text-align:right}table.num td:first-child,table.num td:nth-child(2){text-align:left}
th{background:#f3f3f3}
details.evidence summary{cursor:pointer;color:#c62828;font-weight:600}
details.evidence ol{margin:4px 0;padding-left:22px;max-height:240px;overflow:auto;font-size:12px}
pre{background:#fff;border:1px solid #e0e0e0;padding:8px;overflow:auto;max-height:480px;font-size:12px}
ul.drift li.upward{color:#c62828;font-weight:600}
.verdict-worse{color:#c62828;font-weight:600}.verdict-better{color:#2e7d32;font-weight:600}.verdict-same{color:#555}
footer{margin-top:30px;color:#888;font-size:12px}
`;
