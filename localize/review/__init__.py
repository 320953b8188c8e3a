"""Per-market QA review: a local web page per episode and market, approvals, edits, sign-off and export."""
