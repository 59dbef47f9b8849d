"""Page shells: the app shell with its navbar, and (later) the chrome-less embed and print shells."""
