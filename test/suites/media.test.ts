// The media suite: registers its tests when imported (see index.ts).
