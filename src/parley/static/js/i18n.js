// UI strings in English and Simplified Chinese. Elements opt in with data-i18n (text),
// data-i18n-label (aria-label) and data-i18n-placeholder.

const STORAGE_KEY = 'parley.locale';

const MESSAGES = {
  en: {
    tagline: 'Private voice and video calls, on your own server.',
    newCall: 'Start a new call',
    orJoin: 'or join a room by name',
    roomNamePlaceholder: 'room name',
    roomNameHint: 'Letters, digits, - and _; up to 64.',
    join: 'Join',
    joinCall: 'Join call',
    language: 'Language',
    chooseMedia: 'Call with',
    video: 'Video',
    voice: 'Voice only',
    preview: 'Your camera preview',
    localVideo: 'You',
    remoteVideo: 'The other person',
    room: 'Room',
    copyLink: 'Copy invite link',
    linkCopied: 'Link copied',
    hangUp: 'Hang up',
    callAgain: 'Call again',
    newRoom: 'New room',
    tapToHear: 'Tap to turn on sound',
    voiceCall: 'Voice call',
    'status.loading': 'Loading…',
    'status.media': 'Starting camera and microphone…',
    'status.connecting': 'Connecting to the server…',
    'status.waiting': 'Waiting for someone to join. Share the link.',
    'status.peerJoined': 'Someone joined. Connecting…',
    'status.negotiating': 'Connecting the call…',
    'status.inCall': 'In call',
    'status.peerDisconnected': 'The other person lost their connection. Waiting…',
    'status.iceFailed': 'The media connection failed.',
    'notice.youHungUp.title': 'Call ended',
    'notice.youHungUp.text': 'You hung up.',
    'notice.peerHungUp.title': 'Call ended',
    'notice.peerHungUp.text': 'The other person hung up.',
    'notice.roomFull.title': 'This room is full',
    'notice.roomFull.text': 'A call is already going on here. Start a new call instead.',
    'notice.insecure.title': 'Camera and microphone need a secure page',
    'notice.insecure.text':
      'Browsers only allow calls on https:// pages or on localhost. Open this page over https:// (ask whoever runs this server), or on the same computer via localhost.',
    'notice.mediaDenied.title': 'No access to camera or microphone',
    'notice.mediaDenied.text':
      'The browser refused access. Allow the camera and microphone for this site (the icon in the address bar), then try again.',
    'notice.mediaMissing.title': 'No camera or microphone found',
    'notice.mediaMissing.text': 'Connect a microphone (and a camera for video), or choose a voice-only call.',
    'notice.mediaFailed.title': 'Could not start camera or microphone',
    'notice.mediaFailed.text': 'Another program may be using it. Close it and try again.',
    'notice.serverLost.title': 'Connection to the server lost',
    'notice.serverLost.text': 'Check your network and try again.',
    'notice.badRoom.title': 'Not a valid room link',
    'notice.badRoom.text': 'Room names use letters, digits, - and _.',
    'notice.error.title': 'Something went wrong',
    yourName: 'Your name',
    nameHint: 'Others see this name when you call them.',
    continue: 'Continue',
    you: 'You:',
    rename: 'Change name',
    people: 'People',
    history: 'Recent calls',
    rooms: 'Rooms',
    nobodyOnline: 'Nobody else is online right now. Share this page with someone to call them.',
    noHistory: 'No calls yet.',
    videoCall: 'Video call',
    voiceCallButton: 'Voice call',
    callBack: 'Call back',
    calling: 'Calling…',
    cancel: 'Cancel',
    incomingVideo: 'Incoming video call',
    incomingVoice: 'Incoming voice call',
    acceptVideo: 'Accept with video',
    acceptVoice: 'Accept with voice only',
    decline: 'Decline',
    ok: 'OK',
    enableNotifications: 'Notify me of calls',
    missedCall: 'Missed',
    outgoing: 'Outgoing',
    incoming: 'Incoming',
    mediaVideo: 'Video',
    mediaAudio: 'Voice',
    'status.ringing': 'Ringing…',
    'ended.title': 'Call ended',
    'end.declined.caller': '{name} declined the call.',
    'end.declined.callee': 'You declined the call.',
    'end.busy': '{name} is busy on another call.',
    'end.noAnswer.caller': 'No answer from {name}.',
    'end.noAnswer.callee': 'Missed call from {name}.',
    'end.cancelled.caller': 'You cancelled the call.',
    'end.cancelled.callee': '{name} hung up before you answered.',
    'end.offline': '{name} is not online.',
    'end.hangup.me': 'You hung up.',
    'end.hangup.peer': '{name} hung up.',
    'end.connectionLost': 'The connection was lost.',
    'end.answeredElsewhere': 'Answered on another device.',
    'end.failed': 'The call could not be set up.',
    'history.ongoing': 'In progress',
    authFailed: 'Your sign-in was refused or has expired. Open the call again from your app.',
    'ice.title': 'Connection test',
    'ice.intro': "Checks which network paths a call could take from this device, with this server's STUN and TURN settings or with servers you enter.",
    'ice.useServer': "This server's settings",
    'ice.useCustom': 'These servers:',
    'ice.username': 'username',
    'ice.credential': 'credential',
    'ice.gather': 'Gather candidates',
    'ice.type': 'Type',
    'ice.protocol': 'Protocol',
    'ice.address': 'Address',
    'ice.port': 'Port',
    'ice.priority': 'Priority',
    'ice.time': 'Time',
    'ice.turnRejected': 'TURN credentials rejected: the TURN server refused the username and password (401). Parley and coturn must share the same secret, and their clocks must agree.',
    'ice.turnUnreachable': 'No relay candidate: TURN unreachable over UDP. Try a turns: URL on port 443.',
    'ice.stunBlocked': 'Only host candidates: STUN is blocked or unreachable.',
    'ice.noTurn': 'No TURN server is configured: calls between some networks (strict NATs, firewalls) will fail.',
    'ice.nothing': 'No candidates at all: this device cannot make calls from here.',
    'ice.allGood': 'Everything answered. Candidate types found: {kinds}.',
    'ice.serverUnreachable': 'Could not reach this Parley server to get its settings.',
    'ice.insecure': 'This page is on http:// at an address other than localhost: browsers only allow camera and microphone on https:// pages. Put Parley behind HTTPS.',
  },
  'zh-CN': {
    tagline: '在你自己的服务器上进行私密的语音和视频通话。',
    newCall: '发起新通话',
    orJoin: '或按名称加入房间',
    roomNamePlaceholder: '房间名称',
    roomNameHint: '字母、数字、- 和 _，最多 64 个字符。',
    join: '加入',
    joinCall: '加入通话',
    language: '语言',
    chooseMedia: '通话方式',
    video: '视频',
    voice: '仅语音',
    preview: '你的摄像头预览',
    localVideo: '你',
    remoteVideo: '对方',
    room: '房间',
    copyLink: '复制邀请链接',
    linkCopied: '链接已复制',
    hangUp: '挂断',
    callAgain: '再次通话',
    newRoom: '新房间',
    tapToHear: '点击开启声音',
    voiceCall: '语音通话',
    'status.loading': '正在加载…',
    'status.media': '正在启动摄像头和麦克风…',
    'status.connecting': '正在连接服务器…',
    'status.waiting': '正在等待对方加入，请分享链接。',
    'status.peerJoined': '对方已加入，正在连接…',
    'status.negotiating': '正在接通…',
    'status.inCall': '通话中',
    'status.peerDisconnected': '对方网络断开，正在等待…',
    'status.iceFailed': '媒体连接失败。',
    'notice.youHungUp.title': '通话已结束',
    'notice.youHungUp.text': '你已挂断。',
    'notice.peerHungUp.title': '通话已结束',
    'notice.peerHungUp.text': '对方已挂断。',
    'notice.roomFull.title': '房间已满',
    'notice.roomFull.text': '这个房间里已经有通话在进行。请发起新的通话。',
    'notice.insecure.title': '摄像头和麦克风需要安全连接',
    'notice.insecure.text':
      '浏览器只允许在 https:// 页面或 localhost 上通话。请通过 https:// 打开本页（请联系服务器管理员），或在同一台电脑上通过 localhost 打开。',
    'notice.mediaDenied.title': '无法使用摄像头或麦克风',
    'notice.mediaDenied.text': '浏览器拒绝了访问。请在地址栏的图标中允许本网站使用摄像头和麦克风，然后重试。',
    'notice.mediaMissing.title': '未找到摄像头或麦克风',
    'notice.mediaMissing.text': '请连接麦克风（视频通话还需要摄像头），或选择仅语音通话。',
    'notice.mediaFailed.title': '无法启动摄像头或麦克风',
    'notice.mediaFailed.text': '可能有其他程序正在使用。请关闭后重试。',
    'notice.serverLost.title': '与服务器的连接已断开',
    'notice.serverLost.text': '请检查网络后重试。',
    'notice.badRoom.title': '无效的房间链接',
    'notice.badRoom.text': '房间名称只能包含字母、数字、- 和 _。',
    'notice.error.title': '出现了问题',
    yourName: '你的名字',
    nameHint: '别人在你呼叫他们时会看到这个名字。',
    continue: '继续',
    you: '你：',
    rename: '改名',
    people: '联系人',
    history: '最近通话',
    rooms: '房间',
    nobodyOnline: '现在没有其他人在线。把本页面分享给别人，就可以呼叫他们。',
    noHistory: '还没有通话记录。',
    videoCall: '视频通话',
    voiceCallButton: '语音通话',
    callBack: '回拨',
    calling: '正在呼叫…',
    cancel: '取消',
    incomingVideo: '视频来电',
    incomingVoice: '语音来电',
    acceptVideo: '视频接听',
    acceptVoice: '仅语音接听',
    decline: '拒绝',
    ok: '好',
    enableNotifications: '来电时通知我',
    missedCall: '未接',
    outgoing: '呼出',
    incoming: '呼入',
    mediaVideo: '视频',
    mediaAudio: '语音',
    'status.ringing': '正在响铃…',
    'ended.title': '通话已结束',
    'end.declined.caller': '{name} 拒绝了通话。',
    'end.declined.callee': '你拒绝了通话。',
    'end.busy': '{name} 正在通话中。',
    'end.noAnswer.caller': '{name} 无人接听。',
    'end.noAnswer.callee': '来自 {name} 的未接来电。',
    'end.cancelled.caller': '你取消了通话。',
    'end.cancelled.callee': '{name} 在你接听前挂断了。',
    'end.offline': '{name} 不在线。',
    'end.hangup.me': '你挂断了通话。',
    'end.hangup.peer': '{name} 挂断了通话。',
    'end.connectionLost': '连接已中断。',
    'end.answeredElsewhere': '已在其他设备上接听。',
    'end.failed': '无法建立通话。',
    'history.ongoing': '进行中',
    authFailed: '登录凭据被拒绝或已过期。请从你的应用中重新打开通话。',
    'ice.title': '连接测试',
    'ice.intro': '检测本设备发起通话时可用的网络路径，可以使用本服务器的 STUN 和 TURN 设置，也可以使用你输入的服务器。',
    'ice.useServer': '本服务器的设置',
    'ice.useCustom': '以下服务器：',
    'ice.username': '用户名',
    'ice.credential': '密码',
    'ice.gather': '收集候选地址',
    'ice.type': '类型',
    'ice.protocol': '协议',
    'ice.address': '地址',
    'ice.port': '端口',
    'ice.priority': '优先级',
    'ice.time': '用时',
    'ice.turnRejected': 'TURN 凭据被拒绝：TURN 服务器拒绝了用户名和密码（401）。Parley 与 coturn 必须使用相同的密钥，而且两者的时钟要一致。',
    'ice.turnUnreachable': '没有中继候选地址：无法通过 UDP 连接 TURN 服务器。请尝试使用 443 端口的 turns: 地址。',
    'ice.stunBlocked': '只有本机候选地址：STUN 被阻止或无法连接。',
    'ice.noTurn': '没有配置 TURN 服务器：某些网络之间（严格的 NAT、防火墙）的通话会失败。',
    'ice.nothing': '没有任何候选地址：本设备在当前网络下无法通话。',
    'ice.allGood': '一切正常。找到的候选类型：{kinds}。',
    'ice.serverUnreachable': '无法连接本 Parley 服务器以获取设置。',
    'ice.insecure': '本页面通过 http:// 在非 localhost 地址上打开：浏览器只允许在 https:// 页面使用摄像头和麦克风。请为 Parley 配置 HTTPS。',
  },
};

export const LOCALES = Object.keys(MESSAGES);

let current = detectLocale();

function detectLocale() {
  const stored = localStorage.getItem(STORAGE_KEY);
  if (stored && stored in MESSAGES) return stored;
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language];
  return preferred.some((tag) => tag?.toLowerCase().startsWith('zh')) ? 'zh-CN' : 'en';
}

export function locale() {
  return current;
}

export function setLocale(next) {
  if (!(next in MESSAGES)) return;
  current = next;
  localStorage.setItem(STORAGE_KEY, next);
  translatePage();
}

export function t(key) {
  return MESSAGES[current][key] ?? MESSAGES.en[key] ?? key;
}

/** A string with `{placeholders}` filled in. @param {string} key @param {Record<string, string>} values */
export function format(key, values) {
  return t(key).replace(/\{(\w+)\}/g, (_, name) => values[name] ?? '');
}

export function translatePage(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  }
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) {
    el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
  }
}

/** Wires a <select> to the locale and keeps the page translated. */
export function bindLocaleSelect(select) {
  select.replaceChildren(
    ...LOCALES.map((code) => new Option(code === 'en' ? 'English' : '中文', code, false, code === current)),
  );
  select.addEventListener('change', () => setLocale(select.value));
  translatePage();
}
