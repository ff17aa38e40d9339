"""Strings that end or hide an inline ``<script>`` when written into one as they are, and other
text a report must show as text (issue 24): config keys, values, errors, section text."""

from __future__ import annotations

HOSTILE = [
    "<!--<script",
    "</script><script>document.title='pwned'</script>",
    "<script>",
    "</SCRIPT >",
    "<!--",
    "-->",
    "<sCrIpT>",
    "]]><!-- x -->",
    "a\u2028b\u2029c",
    "&lt;not an entity&gt;",
    "'\"`${x}",
]
