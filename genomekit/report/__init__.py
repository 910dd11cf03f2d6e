"""The HTML report: inputs (report.inputs), sections (report.sections) drawn as inline SVG
(report.svg), the page (report.html with templates/ and static/), and MultiQC files."""
