def when: {env: ($ENV | keys), env2: (env | length), file: input_filename, input: (try input catch "none")};
