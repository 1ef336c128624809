/* A stand-in for closed vendor software: its own library found through RUNPATH=$ORIGIN/../lib
 * (or the LD_LIBRARY_PATH its wrapper exports), a plugin loaded with dlopen from the name in its
 * config file (relative names in $VENDOR_PLUGIN_DIR), state under /var/lib/<vendor>. Built with
 * -DVENDOR_CONF='"/etc/…"' it reads that config, compiled in, when given no argument. */
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *vendor_banner(void);

int main(int argc, char **argv) {
#ifdef VENDOR_CONF
    const char *conf = argc < 2 ? VENDOR_CONF : argv[1];
#else
    if (argc < 2) { fprintf(stderr, "usage: %s CONFIG\n", argv[0]); return 2; }
    const char *conf = argv[1];
#endif
    char plugin[512] = "", state[512] = "";
    int port = 0;
    FILE *cfg = fopen(conf, "r");
    if (!cfg) { perror(conf); return 1; }
    char line[600];
    while (fgets(line, sizeof line, cfg)) {
        sscanf(line, "plugin = %511s", plugin);
        sscanf(line, "state = %511s", state);
        sscanf(line, "port = %d", &port);
    }
    fclose(cfg);
    const char *dir = getenv("VENDOR_PLUGIN_DIR");
    if (plugin[0] != '/' && dir) {
        char full[1100];
        snprintf(full, sizeof full, "%s/%s", dir, plugin);
        snprintf(plugin, sizeof plugin, "%s", full);
    }
    void *h = dlopen(plugin, RTLD_NOW);
    if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
    const char *(*greet)(void) = (const char *(*)(void))dlsym(h, "plugin_greeting");
    FILE *st = fopen(state, "a+");
    if (!st) { perror(state); return 1; }
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001) };
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16)) { perror("listen"); return 1; }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        long visits = 0;
        fseek(st, 0, SEEK_SET);
        if (fscanf(st, "%ld", &visits) != 1) visits = 0;
        visits++;
        FILE *w = fopen(state, "w");
        if (w) { fprintf(w, "%ld\n", visits); fclose(w); }
        char out[256];
        int n = snprintf(out, sizeof out, "%s %s visit %ld\n", vendor_banner(), greet(), visits);
        if (write(c, out, n) < 0) perror("write");
        close(c);
    }
}
