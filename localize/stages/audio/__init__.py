"""The audio stage: the source's sound decoded once for recognition and for the mix."""
