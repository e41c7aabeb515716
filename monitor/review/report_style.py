"""The report's stylesheet: light, compact, and made for paper as much as for screens.

Inlined into the report's ``<style>``; no web fonts, no url(): the file must
render the same offline. Colours print (``print-color-adjust: exact``) because
the limit bands and priority badges carry meaning.
"""

CSS = """
:root { color-scheme: light; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
* { box-sizing: border-box; }
body { font: 10pt/1.35 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; color: #111; background: #fff; margin: 0 auto; max-width: 1120px;
       padding: 16px 20px; }
h1 { font-size: 17pt; margin: 0 0 4px; }
h2 { font-size: 13pt; margin: 18px 0 6px; padding-bottom: 2px; border-bottom: 2px solid #333;
     break-after: avoid; }
h3 { font-size: 10.5pt; margin: 10px 0 4px; break-after: avoid; }
.source-label { display: inline-block; margin: 4px 0; padding: 3px 10px; border: 3px solid #c62828;
                color: #c62828; font-weight: 700; letter-spacing: 0.08em; }
.statement { margin: 6px 0; padding: 4px 8px; border-left: 4px solid #555; background: #f2f2f2; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 1px 12px; margin: 6px 0; }
dl.facts dt { font-weight: 600; color: #333; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 4px 22px; }
table { border-collapse: collapse; width: 100%; font-size: 8.8pt; margin: 2px 0 6px; }
th, td { border: 1px solid #bbb; padding: 2px 5px; text-align: left; vertical-align: top; }
td { overflow-wrap: break-word; }
thead th { background: #ececec; }
tbody th { font-weight: 600; background: #fafafa; white-space: nowrap; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.missing { color: #777; text-align: center; }
td.none { color: #777; font-style: italic; }
.unit { font-weight: 400; color: #555; font-size: 8pt; }
.note { font-size: 8.5pt; color: #444; margin: 2px 0 8px; }
ul.notes, ul.checklist { margin: 2px 0 6px; padding-left: 18px; font-size: 9pt; }
li.met::marker { content: "✓ "; color: #1b5e20; }
li.unmet::marker { content: "✗ "; color: #c62828; }
li.unknown::marker { content: "? "; }
.badge { display: inline-block; white-space: nowrap; min-width: 4.2em; padding: 0 4px;
         border-radius: 3px; text-align: center; font-size: 8pt; font-weight: 700;
         border: 1px solid #999; }
.badge.high { background: #c62828; color: #fff; border-color: #c62828; }
.badge.medium { background: #f6d35b; color: #000; border-color: #c9a227; }
.badge.low { background: #bfeaf1; color: #000; border-color: #62b8c6; }
tr.prio-high td { background: #fdf0f0; }
tr.fs.pre th, tr.fs.pre td { background: #f4f7fb; }
tr.event.infusion td { background: #eef4fc; }
tr.omitted td { color: #555; font-style: italic; }
figure.panel { margin: 4px 0 10px; break-inside: avoid; }
figcaption { font-size: 9pt; margin-bottom: 2px; }
figcaption span { margin-left: 8px; white-space: nowrap; }
svg.chart { display: block; width: 100%; height: auto; border: 1px solid #ccc; }
svg .grid { stroke: #e3e3e3; stroke-width: 0.6; }
svg text { font: 9px system-ui, Arial, sans-serif; fill: #333; }
svg .yl { text-anchor: end; }
svg .xl { text-anchor: middle; }
svg .lane { font-size: 8.5px; fill: #222; }
svg .ll { text-anchor: end; font-size: 8px; }
footer { margin-top: 18px; padding-top: 6px; border-top: 1px solid #999; font-size: 8.5pt;
         color: #333; }
@page { size: A4; margin: 12mm 10mm 13mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 9pt; }
  section.charts, section.flowsheet-section, section.alarm-section { break-before: page; }
  h2 { margin-top: 0; }
  svg.chart { border-color: #999; }
}
@media (max-width: 760px) { .cols { grid-template-columns: 1fr; } }
"""
