"""The Gain tab: set-up, box grid, epoxy-void region editor, live PTC panel, results, export."""
