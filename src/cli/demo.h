/* Pieces of `celeryroot demo`. */
#ifndef CR_DEMO_H
#define CR_DEMO_H

/* Builds the demo packages into repo/ and indexes them (Packages). */
int demo_build_repo(const char *repo);

#endif
