// The generation suite: registers its tests when imported (see index.ts).
