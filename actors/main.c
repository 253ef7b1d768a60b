/* byzgrid command-line interface (work in progress: replaced by the full CLI). */
int main(void) { return 0; }
