"""Account domain: profile rules, the public/private split, the ISO country list."""
