"""The desk's pages, one blueprint per area."""
