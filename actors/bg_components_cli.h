/* The component subcommands of the CLI (aggregate, compress, attack): CSV rows in, CSV rows out. */
#ifndef BG_COMPONENTS_CLI_H
#define BG_COMPONENTS_CLI_H

/* argv[1] is the subcommand. Returns the exit status, or -1 if argv[1] is not one of them. */
int bg_cli_components(int argc, char **argv);

#endif
