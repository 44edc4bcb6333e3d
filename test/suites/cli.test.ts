// The cli suite: registers its tests when imported (see index.ts).
