// The MotionRender target: stick-figure rendering to PNG, GIF, MP4 and a self-contained HTML viewer.
