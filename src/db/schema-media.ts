// Tables owned by the media concern (src/media). Kept apart so each concern edits only its own file.
export interface MediaTables {}
