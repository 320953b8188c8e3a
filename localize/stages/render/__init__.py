"""Region renders: the market's video, subtitles and review report."""
